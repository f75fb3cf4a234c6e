SELECT "User".id AS id,
       CAST(
              (SELECT json_agg(json_build_object('id', orders.id, 'status', orders.status)
                               ORDER BY orders.id ASC) AS anon_1
               FROM users_and_orders.orders AS orders
               WHERE "User".id = orders.user_id) AS TEXT) AS orders,
       CAST(
              (SELECT json_agg(json_build_object('id', paid_orders.id, 'total', CAST(paid_orders.total AS TEXT))
                               ORDER BY paid_orders.id ASC) AS anon_2
               FROM users_and_orders.orders AS paid_orders
               WHERE "User".id = paid_orders.user_id
                 AND paid_orders.status = %(status_1)s::VARCHAR) AS TEXT) AS paid_orders
FROM users_and_orders.users AS "User"
ORDER BY "User".id
