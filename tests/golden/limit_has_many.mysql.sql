SELECT `User`.id AS id,
       `User`.name AS name,

  (SELECT JSON_ARRAY(COUNT(*), JSON_ARRAYAGG(JSON_OBJECT('id', orders.id, 'user_id', orders.user_id, 'status', orders.status, 'total', CAST(orders.total AS CHAR), 'created_at', CAST(orders.created_at AS CHAR))
                                             ORDER BY orders.id ASC)) AS anon_1
   FROM users_and_orders.orders AS orders
   WHERE `User`.id = orders.user_id) AS orders,

  (SELECT JSON_ARRAY(COUNT(*), JSON_ARRAYAGG(JSON_OBJECT('id', reviews.id, 'product_id', reviews.product_id, 'user_id', reviews.user_id, 'rating', reviews.rating, 'body', reviews.body)
                                             ORDER BY reviews.id ASC)) AS anon_2
   FROM products.reviews AS reviews
   WHERE `User`.id = reviews.user_id) AS reviews
FROM users_and_orders.users AS `User`
ORDER BY `User`.name DESC,
         `User`.id
LIMIT %s,
      %s
