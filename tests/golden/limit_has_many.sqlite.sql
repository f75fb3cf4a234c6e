SELECT "User".id AS id,
       "User".name AS name,

  (SELECT json_group_array(json_object('id', orders.id, 'user_id', orders.user_id, 'status', orders.status, 'total', orders.total, 'created_at', orders.created_at)) AS anon_1
   FROM users_and_orders.orders AS orders
   WHERE "User".id = orders.user_id) AS orders,

  (SELECT json_group_array(json_object('id', reviews.id, 'product_id', reviews.product_id, 'user_id', reviews.user_id, 'rating', reviews.rating, 'body', reviews.body)) AS anon_2
   FROM products.reviews AS reviews
   WHERE "User".id = reviews.user_id) AS reviews
FROM users_and_orders.users AS "User"
ORDER BY "User".name DESC,
         "User".id
LIMIT ?
OFFSET ?
