SELECT "Product".id AS id,
       "Product".name AS name,
       cheap_orders.id AS "cheap_orders.id",
       cheap_orders.total AS "cheap_orders.total",
       category.id AS "category.id",
       category.name AS "category.name"
FROM "shop_postgresql"."products".products AS "Product"
LEFT OUTER JOIN ("shop_mariadb"."users_and_orders".order_products AS "cheap_orders->OrderProduct"
                 JOIN "shop_mariadb"."users_and_orders".orders AS cheap_orders ON "cheap_orders->OrderProduct".order_id = cheap_orders.id
                 AND cheap_orders.total < :total_1) ON "Product".id = "cheap_orders->OrderProduct".product_id
LEFT OUTER JOIN "shop_postgresql"."products".categories AS category ON "Product".category_id = category.id
ORDER BY "Product".id,
         cheap_orders.id
