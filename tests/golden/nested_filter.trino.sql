SELECT "User".id AS id,
       "User".name AS name,
       orders.id AS "orders.id",
       "orders->products".id AS "orders.products.id",
       "orders->products".name AS "orders.products.name"
FROM "shop_mariadb"."users_and_orders".users AS "User"
LEFT OUTER JOIN "shop_mariadb"."users_and_orders".orders AS orders ON "User".id = orders.user_id
LEFT OUTER JOIN ("shop_mariadb"."users_and_orders".order_products AS "orders->products->OrderProduct"
                 JOIN "shop_postgresql"."products".products AS "orders->products" ON "orders->products->OrderProduct".product_id = "orders->products".id) ON orders.id = "orders->products->OrderProduct".order_id
WHERE "orders->products".name LIKE :name_1
ORDER BY "User".id,
         orders.id,
         "orders->products".id
