SELECT "User".id AS id,
       "User".name AS name,
       CAST(
              (SELECT json_agg(json_build_object('id', orders.id, 'user_id', orders.user_id, 'status', orders.status, 'total', CAST(orders.total AS TEXT), 'created_at', CAST(orders.created_at AS TEXT))
                               ORDER BY orders.id ASC) AS anon_1
               FROM users_and_orders.orders AS orders
               WHERE "User".id = orders.user_id) AS TEXT) AS orders,
       CAST(
              (SELECT json_agg(json_build_object('id', reviews.id, 'product_id', reviews.product_id, 'user_id', reviews.user_id, 'rating', reviews.rating, 'body', reviews.body)
                               ORDER BY reviews.id ASC) AS anon_2
               FROM products.reviews AS reviews
               WHERE "User".id = reviews.user_id) AS TEXT) AS reviews
FROM users_and_orders.users AS "User"
ORDER BY "User".name DESC,
         "User".id
LIMIT %(param_1)s::INTEGER
OFFSET %(param_2)s::INTEGER
