SELECT "Product".id AS id,
       "Product".category_id AS category_id,
       category_row.id AS "category_row.id",
       category_row.name AS "category_row.name"
FROM "shop_postgresql"."products".products AS "Product"
LEFT OUTER JOIN "shop_postgresql"."products".categories AS category_row ON "Product".category_id = category_row.id
ORDER BY "Product".id
