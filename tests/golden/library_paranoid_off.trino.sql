SELECT "Loan".id AS id,
       book.id AS "book.id",
       member.id AS "member.id"
FROM "library_mariadb"."lending".loans AS "Loan"
LEFT OUTER JOIN "library_postgresql"."catalog".books AS book ON "Loan".book_id = book.id
LEFT OUTER JOIN "library_mariadb"."lending".members AS member ON "Loan".member_id = member.id
AND member.deleted_at IS NULL
ORDER BY "Loan".id
