SELECT "Review".id AS id,
       "Review".product_id AS product_id,
       "Review".user_id AS user_id,
       "Review".rating AS rating,
       "Review".body AS BODY,
       product.id AS "product.id",
       product.name AS "product.name",
       product.price AS "product.price",
       product.category_id AS "product.category_id",
       "product->category".id AS "product.category.id",
       "product->category".name AS "product.category.name",
       author.id AS "author.id",
       author.name AS "author.name",
       author.email AS "author.email",
       author.created_at AS "author.created_at",
       author.referred_by AS "author.referred_by"
FROM "shop_postgresql"."products".reviews AS "Review"
LEFT OUTER JOIN "shop_postgresql"."products".products AS product ON "Review".product_id = product.id
LEFT OUTER JOIN "shop_postgresql"."products".categories AS "product->category" ON product.category_id = "product->category".id
LEFT OUTER JOIN "shop_mariadb"."users_and_orders".users AS author ON "Review".user_id = author.id
ORDER BY "Review".id
