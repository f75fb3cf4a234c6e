SELECT "User".id AS id,
       "User".name AS name,
       referrer.id AS "referrer.id",
       referrer.name AS "referrer.name",
       referrals.id AS "referrals.id",
       referrals.name AS "referrals.name",
       "referrals->referrals".id AS "referrals.referrals.id",
       "referrals->referrals".name AS "referrals.referrals.name"
FROM "shop_mariadb"."users_and_orders".users AS "User"
LEFT OUTER JOIN "shop_mariadb"."users_and_orders".users AS referrer ON "User".referred_by = referrer.id
LEFT OUTER JOIN "shop_mariadb"."users_and_orders".users AS referrals ON "User".id = referrals.referred_by
LEFT OUTER JOIN "shop_mariadb"."users_and_orders".users AS "referrals->referrals" ON referrals.id = "referrals->referrals".referred_by
ORDER BY "User".id,
         referrals.id,
         "referrals->referrals".id
