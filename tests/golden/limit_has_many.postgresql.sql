SELECT "User".id AS id,
       "User".name AS name,
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
JOIN
  (SELECT "User".id AS id,
          "User".name AS order_0
   FROM users_and_orders.users AS "User"
   ORDER BY order_0 DESC,
            "User".id
   LIMIT %(param_1)s::INTEGER
   OFFSET %(param_2)s::INTEGER) AS picked ON picked.id = "User".id
LEFT OUTER JOIN users_and_orders.orders AS orders ON "User".id = orders.user_id
LEFT OUTER JOIN products.reviews AS reviews ON "User".id = reviews.user_id
ORDER BY "User".name DESC,
         "User".id,
         orders.id,
         reviews.id
