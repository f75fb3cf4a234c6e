SELECT `User`.id AS id,

  (SELECT JSON_ARRAY(COUNT(*), JSON_ARRAYAGG(JSON_OBJECT('id', orders.id, 'status', orders.status)
                                             ORDER BY orders.id ASC)) AS anon_1
   FROM users_and_orders.orders AS orders
   WHERE `User`.id = orders.user_id) AS orders,

  (SELECT JSON_ARRAY(COUNT(*), JSON_ARRAYAGG(JSON_OBJECT('id', paid_orders.id, 'total', CAST(paid_orders.total AS CHAR))
                                             ORDER BY paid_orders.id ASC)) AS anon_2
   FROM users_and_orders.orders AS paid_orders
   WHERE `User`.id = paid_orders.user_id
     AND paid_orders.status = %s) AS paid_orders
FROM users_and_orders.users AS `User`
ORDER BY `User`.id
