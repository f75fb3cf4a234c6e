SELECT `User`.id AS id,
       orders.id AS `orders.id`,
       orders.total AS `orders.total`
FROM users_and_orders.users AS `User`
INNER JOIN
  (SELECT `User`.id AS id
   FROM users_and_orders.users AS `User`
   LEFT OUTER JOIN users_and_orders.orders AS orders ON `User`.id = orders.user_id
   WHERE orders.total > %s
   GROUP BY `User`.id
   ORDER BY `User`.id
   LIMIT %s,
         %s) AS picked ON picked.id = `User`.id
LEFT OUTER JOIN users_and_orders.orders AS orders ON `User`.id = orders.user_id
WHERE orders.total > %s
ORDER BY `User`.id,
         orders.id
