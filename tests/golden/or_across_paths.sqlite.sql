SELECT "User".id AS id,
       orders.id AS "orders.id",
       orders.status AS "orders.status"
FROM users_and_orders.users AS "User"
LEFT OUTER JOIN users_and_orders.orders AS orders ON "User".id = orders.user_id
WHERE "User".name = ?
  OR orders.status = ?
ORDER BY "User".id,
         orders.id
