SELECT "User".id AS id,
       orders.id AS "orders.id"
FROM "shop_mariadb"."users_and_orders".users AS "User"
LEFT OUTER JOIN "shop_mariadb"."users_and_orders".orders AS orders ON "User".id = orders.user_id
AND orders.status = :status_1
ORDER BY "User".id,
         orders.id
