SELECT "User".id AS id,

  (SELECT json_group_array(json_object('id', CASE typeof(orders.id)
                                                 WHEN 'real' THEN json_array(CASE
                                                                                 WHEN abs(orders.id) < 1e100 THEN 'r'
                                                                                 ELSE 'R'
                                                                             END, printf('%!.17g', orders.id))
                                                 WHEN 'blob' THEN json_array('b', hex(orders.id))
                                                 ELSE orders.id
                                             END, 'status', CASE typeof(orders.status)
                                                                WHEN 'real' THEN json_array(CASE
                                                                                                WHEN abs(orders.status) < 1e100 THEN 'r'
                                                                                                ELSE 'R'
                                                                                            END, printf('%!.17g', orders.status))
                                                                WHEN 'blob' THEN json_array('b', hex(orders.status))
                                                                ELSE orders.status
                                                            END)) AS anon_1
   FROM users_and_orders.orders AS orders
   WHERE "User".id = orders.user_id) AS orders,

  (SELECT json_group_array(json_object('id', CASE typeof(paid_orders.id)
                                                 WHEN 'real' THEN json_array(CASE
                                                                                 WHEN abs(paid_orders.id) < 1e100 THEN 'r'
                                                                                 ELSE 'R'
                                                                             END, printf('%!.17g', paid_orders.id))
                                                 WHEN 'blob' THEN json_array('b', hex(paid_orders.id))
                                                 ELSE paid_orders.id
                                             END, 'total', CASE typeof(paid_orders.total)
                                                               WHEN 'real' THEN json_array(CASE
                                                                                               WHEN abs(paid_orders.total) < 1e100 THEN 'r'
                                                                                               ELSE 'R'
                                                                                           END, printf('%!.17g', paid_orders.total))
                                                               WHEN 'blob' THEN json_array('b', hex(paid_orders.total))
                                                               ELSE paid_orders.total
                                                           END)) AS anon_2
   FROM users_and_orders.orders AS paid_orders
   WHERE "User".id = paid_orders.user_id
     AND paid_orders.status = ?) AS paid_orders
FROM users_and_orders.users AS "User"
ORDER BY "User".id
