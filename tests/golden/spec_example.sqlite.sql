SELECT "User".id AS id,
       "User".name AS name,
       orders.id AS "orders.id",
       orders.total AS "orders.total",
       "orders->products".id AS "orders.products.id",
       "orders->products".name AS "orders.products.name",
       "orders->products".price AS "orders.products.price",
       "orders->products".category_id AS "orders.products.category_id"
FROM users_and_orders.users AS "User"
JOIN
  (SELECT "User".id AS id,
          "User".name AS order_0
   FROM users_and_orders.users AS "User"
   JOIN users_and_orders.orders AS orders ON "User".id = orders.user_id
   AND orders.status = ?
   WHERE "User".name LIKE ?
   GROUP BY "User".id,
            "User".name
   ORDER BY order_0 ASC,
            "User".id
   LIMIT ?
   OFFSET ?) AS picked ON picked.id = "User".id
JOIN users_and_orders.orders AS orders ON "User".id = orders.user_id
AND orders.status = ?
LEFT OUTER JOIN (users_and_orders.order_products AS "orders->products->OrderProduct"
                 JOIN products.products AS "orders->products" ON "orders->products->OrderProduct".product_id = "orders->products".id) ON orders.id = "orders->products->OrderProduct".order_id
WHERE "User".name LIKE ?
ORDER BY "User".name ASC,
         orders.total DESC,
         "User".id,
         orders.id,
         "orders->products".id
