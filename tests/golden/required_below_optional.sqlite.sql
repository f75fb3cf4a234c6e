SELECT "User".id AS id,
       "User".name AS name,
       orders.id AS "orders.id",
       "orders->products".id AS "orders.products.id",
       "orders->products".name AS "orders.products.name"
FROM users_and_orders.users AS "User"
LEFT OUTER JOIN (users_and_orders.orders AS orders
                 JOIN users_and_orders.order_products AS "orders->products->OrderProduct" ON orders.id = "orders->products->OrderProduct".order_id
                 JOIN products.products AS "orders->products" ON "orders->products->OrderProduct".product_id = "orders->products".id
                 AND "orders->products".name LIKE ?) ON "User".id = orders.user_id
ORDER BY "User".id,
         orders.id,
         "orders->products".id
