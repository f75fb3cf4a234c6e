SELECT "User".id AS id,
       orders.id AS "orders.id",
       orders.status AS "orders.status",
       paid_orders.id AS "paid_orders.id",
       paid_orders.total AS "paid_orders.total"
FROM users_and_orders.users AS "User"
LEFT OUTER JOIN users_and_orders.orders AS orders ON "User".id = orders.user_id
LEFT OUTER JOIN users_and_orders.orders AS paid_orders ON "User".id = paid_orders.user_id
AND paid_orders.status = %(status_1)s::VARCHAR
ORDER BY "User".id,
         orders.id,
         paid_orders.id
