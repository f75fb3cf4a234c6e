SELECT "User".id AS id,
       orders.id AS "orders.id"
FROM users_and_orders.users AS "User"
JOIN
  (SELECT "User".id AS id,
          "User".id AS order_0
   FROM users_and_orders.users AS "User"
   JOIN users_and_orders.orders AS orders ON "User".id = orders.user_id
   AND orders.status = %(status_1)s::VARCHAR
   GROUP BY "User".id
   ORDER BY order_0 DESC
   LIMIT %(param_1)s::INTEGER) AS picked ON picked.id = "User".id
JOIN users_and_orders.orders AS orders ON "User".id = orders.user_id
AND orders.status = %(status_2)s::VARCHAR
ORDER BY "User".id DESC,
         orders.id
