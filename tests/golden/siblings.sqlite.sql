SELECT "User".id AS id,
       "User".name AS name,
       "User".email AS email,
       "User".created_at AS created_at,
       "User".referred_by AS referred_by,
       orders.id AS "orders.id",
       orders.user_id AS "orders.user_id",
       orders.status AS "orders.status",
       orders.total AS "orders.total",
       orders.created_at AS "orders.created_at",
       reviews.id AS "reviews.id",
       reviews.product_id AS "reviews.product_id",
       reviews.user_id AS "reviews.user_id",
       reviews.rating AS "reviews.rating",
       reviews.body AS "reviews.body"
FROM users_and_orders.users AS "User"
LEFT OUTER JOIN users_and_orders.orders AS orders ON "User".id = orders.user_id
LEFT OUTER JOIN products.reviews AS reviews ON "User".id = reviews.user_id
ORDER BY "User".id,
         orders.id,
         reviews.id
