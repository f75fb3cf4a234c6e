SELECT "Category".id AS id,
       "Category".name AS name,
       products.id AS "products.id",
       products.name AS "products.name",
       products.price AS "products.price",
       products.category_id AS "products.category_id",
       "products->reviews".id AS "products.reviews.id",
       "products->reviews".product_id AS "products.reviews.product_id",
       "products->reviews".user_id AS "products.reviews.user_id",
       "products->reviews".rating AS "products.reviews.rating",
       "products->reviews".body AS "products.reviews.body"
FROM "shop_postgresql"."products".categories AS "Category"
LEFT OUTER JOIN "shop_postgresql"."products".products AS products ON "Category".id = products.category_id
LEFT OUTER JOIN "shop_postgresql"."products".reviews AS "products->reviews" ON products.id = "products->reviews".product_id
ORDER BY "Category".id,
         products.id,
         "products->reviews".id
