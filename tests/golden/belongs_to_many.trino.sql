SELECT "Order".id AS id,
       "Order".user_id AS user_id,
       "Order".status AS status,
       "Order".total AS total,
       "Order".created_at AS created_at,
       user.id AS "user.id",
       user.name AS "user.name",
       user.email AS "user.email",
       user.created_at AS "user.created_at",
       user.referred_by AS "user.referred_by",
       products.id AS "products.id",
       products.name AS "products.name",
       products.price AS "products.price",
       products.category_id AS "products.category_id",
       "products->category".id AS "products.category.id",
       "products->category".name AS "products.category.name"
FROM "shop_mariadb"."users_and_orders".orders AS "Order"
LEFT OUTER JOIN "shop_mariadb"."users_and_orders".users AS USER ON "Order".user_id = user.id
LEFT OUTER JOIN ("shop_mariadb"."users_and_orders".order_products AS "products->OrderProduct"
                 JOIN "shop_postgresql"."products".products AS products ON "products->OrderProduct".product_id = products.id
                 LEFT OUTER JOIN "shop_postgresql"."products".categories AS "products->category" ON products.category_id = "products->category".id) ON "Order".id = "products->OrderProduct".order_id
ORDER BY "Order".id,
         products.id
