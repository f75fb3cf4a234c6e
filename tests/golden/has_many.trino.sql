SELECT "User".id AS id,
       "User".name AS name,
       "User".email AS email,
       "User".created_at AS created_at,
       "User".referred_by AS referred_by,
       orders.id AS "orders.id",
       orders.user_id AS "orders.user_id",
       orders.status AS "orders.status",
       orders.total AS "orders.total",
       orders.created_at AS "orders.created_at"
FROM "shop_mariadb"."users_and_orders".users AS "User"
LEFT OUTER JOIN "shop_mariadb"."users_and_orders".orders AS orders ON "User".id = orders.user_id
ORDER BY "User".id,
         orders.id
