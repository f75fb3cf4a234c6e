SELECT "User".id AS id,
       orders.id AS "orders.id",
       orders.total AS "orders.total"
FROM users_and_orders.users AS "User"
JOIN
  (SELECT "User".id AS id
   FROM users_and_orders.users AS "User"
   LEFT OUTER JOIN users_and_orders.orders AS orders ON "User".id = orders.user_id
   WHERE orders.total > %(total_1)s::INTEGER
   GROUP BY "User".id
   ORDER BY "User".id
   LIMIT %(param_1)s::INTEGER
   OFFSET %(param_2)s::INTEGER) AS picked ON picked.id = "User".id
LEFT OUTER JOIN users_and_orders.orders AS orders ON "User".id = orders.user_id
WHERE orders.total > %(total_2)s::INTEGER
ORDER BY "User".id,
         orders.id
