SELECT "User".id AS id,
       "User".name AS name,

  (SELECT json_group_array(json_object('id', CASE typeof(orders.id)
                                                 WHEN 'real' THEN json_array(CASE
                                                                                 WHEN abs(orders.id) < 1e100 THEN 'r'
                                                                                 ELSE 'R'
                                                                             END, printf('%!.17g', orders.id))
                                                 WHEN 'blob' THEN json_array('b', hex(orders.id))
                                                 ELSE orders.id
                                             END, 'user_id', CASE typeof(orders.user_id)
                                                                 WHEN 'real' THEN json_array(CASE
                                                                                                 WHEN abs(orders.user_id) < 1e100 THEN 'r'
                                                                                                 ELSE 'R'
                                                                                             END, printf('%!.17g', orders.user_id))
                                                                 WHEN 'blob' THEN json_array('b', hex(orders.user_id))
                                                                 ELSE orders.user_id
                                                             END, 'status', CASE typeof(orders.status)
                                                                                WHEN 'real' THEN json_array(CASE
                                                                                                                WHEN abs(orders.status) < 1e100 THEN 'r'
                                                                                                                ELSE 'R'
                                                                                                            END, printf('%!.17g', orders.status))
                                                                                WHEN 'blob' THEN json_array('b', hex(orders.status))
                                                                                ELSE orders.status
                                                                            END, 'total', CASE typeof(orders.total)
                                                                                              WHEN 'real' THEN json_array(CASE
                                                                                                                              WHEN abs(orders.total) < 1e100 THEN 'r'
                                                                                                                              ELSE 'R'
                                                                                                                          END, printf('%!.17g', orders.total))
                                                                                              WHEN 'blob' THEN json_array('b', hex(orders.total))
                                                                                              ELSE orders.total
                                                                                          END, 'created_at', CASE typeof(orders.created_at)
                                                                                                                 WHEN 'real' THEN json_array(CASE
                                                                                                                                                 WHEN abs(orders.created_at) < 1e100 THEN 'r'
                                                                                                                                                 ELSE 'R'
                                                                                                                                             END, printf('%!.17g', orders.created_at))
                                                                                                                 WHEN 'blob' THEN json_array('b', hex(orders.created_at))
                                                                                                                 ELSE orders.created_at
                                                                                                             END)) AS anon_1
   FROM users_and_orders.orders AS orders
   WHERE "User".id = orders.user_id) AS orders,

  (SELECT json_group_array(json_object('id', CASE typeof(reviews.id)
                                                 WHEN 'real' THEN json_array(CASE
                                                                                 WHEN abs(reviews.id) < 1e100 THEN 'r'
                                                                                 ELSE 'R'
                                                                             END, printf('%!.17g', reviews.id))
                                                 WHEN 'blob' THEN json_array('b', hex(reviews.id))
                                                 ELSE reviews.id
                                             END, 'product_id', CASE typeof(reviews.product_id)
                                                                    WHEN 'real' THEN json_array(CASE
                                                                                                    WHEN abs(reviews.product_id) < 1e100 THEN 'r'
                                                                                                    ELSE 'R'
                                                                                                END, printf('%!.17g', reviews.product_id))
                                                                    WHEN 'blob' THEN json_array('b', hex(reviews.product_id))
                                                                    ELSE reviews.product_id
                                                                END, 'user_id', CASE typeof(reviews.user_id)
                                                                                    WHEN 'real' THEN json_array(CASE
                                                                                                                    WHEN abs(reviews.user_id) < 1e100 THEN 'r'
                                                                                                                    ELSE 'R'
                                                                                                                END, printf('%!.17g', reviews.user_id))
                                                                                    WHEN 'blob' THEN json_array('b', hex(reviews.user_id))
                                                                                    ELSE reviews.user_id
                                                                                END, 'rating', CASE typeof(reviews.rating)
                                                                                                   WHEN 'real' THEN json_array(CASE
                                                                                                                                   WHEN abs(reviews.rating) < 1e100 THEN 'r'
                                                                                                                                   ELSE 'R'
                                                                                                                               END, printf('%!.17g', reviews.rating))
                                                                                                   WHEN 'blob' THEN json_array('b', hex(reviews.rating))
                                                                                                   ELSE reviews.rating
                                                                                               END, 'body', CASE typeof(reviews.body)
                                                                                                                WHEN 'real' THEN json_array(CASE
                                                                                                                                                WHEN abs(reviews.body) < 1e100 THEN 'r'
                                                                                                                                                ELSE 'R'
                                                                                                                                            END, printf('%!.17g', reviews.body))
                                                                                                                WHEN 'blob' THEN json_array('b', hex(reviews.body))
                                                                                                                ELSE reviews.body
                                                                                                            END)) AS anon_2
   FROM products.reviews AS reviews
   WHERE "User".id = reviews.user_id) AS reviews
FROM users_and_orders.users AS "User"
ORDER BY "User".name DESC,
         "User".id
LIMIT ?
OFFSET ?
