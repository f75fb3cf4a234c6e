SELECT "User".id AS id,
       "User".name AS name,
       orders.id AS "orders.id",
       orders.status AS "orders.status",
       orders.total AS "orders.total",
       "orders->products".id AS "orders.products.id",
       "orders->products".name AS "orders.products.name",
       "orders->products".price AS "orders.products.price",
       "orders->products->category".id AS "orders.products.category.id",
       "orders->products->category".name AS "orders.products.category.name"
FROM "shop_mariadb"."users_and_orders".users AS "User"
JOIN "shop_mariadb"."users_and_orders".orders AS orders ON "User".id = orders.user_id
AND orders.status = :status_1
LEFT OUTER JOIN ("shop_mariadb"."users_and_orders".order_products AS "orders->products->OrderProduct"
                 JOIN "shop_postgresql"."products".products AS "orders->products" ON "orders->products->OrderProduct".product_id = "orders->products".id
                 LEFT OUTER JOIN "shop_postgresql"."products".categories AS "orders->products->category" ON "orders->products".category_id = "orders->products->category".id) ON orders.id = "orders->products->OrderProduct".order_id
ORDER BY "User".name ASC,
         "User".id,
         orders.id,
         "orders->products".id
