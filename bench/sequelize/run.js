// Sequelize 6 on the library cases of bench/cases.py: findAll with the same include, timed with toJSON().
//
//   CQBENCH_URL=mysql://root@127.0.0.1:3306/cqbench_lending CQBENCH_CATALOG=cqbench_catalog \
//     node bench/sequelize/run.js CASE [--repeat N] [--sample-every K]
//
// One Sequelize instance on the lending database reaches the catalog through the
// cross-database schema trick: `dialect.supports.schemas = true` and `schema:` on
// the catalog's models, so tables are written `cqbench_catalog`.`books`.
// Prints one JSON line: seconds (the first run, as a fresh process of bench.run),
// runs (every run), records (roots), counts (records at each level of the include),
// peak_mb, and with --sample-every K the roots whose id is a multiple of K, as JSON.
'use strict';

const { Sequelize, DataTypes, Op } = require('sequelize');

function models(sequelize, catalog) {
  const key = () => ({ type: DataTypes.INTEGER, primaryKey: true }); // a fresh object: define() mutates it
  const Member = sequelize.define('Member', {
    id: key(), name: DataTypes.STRING, email: DataTypes.STRING, joined_on: DataTypes.DATEONLY,
  }, { tableName: 'members' });
  const Loan = sequelize.define('Loan', {
    id: key(), member_id: DataTypes.INTEGER, book_id: DataTypes.INTEGER, loaned_at: DataTypes.DATE,
    returned_on: DataTypes.DATEONLY, fee: DataTypes.DECIMAL(8, 2),
  }, { tableName: 'loans' });
  const Book = sequelize.define('Book', {
    id: key(), title: DataTypes.STRING, year: DataTypes.INTEGER,
  }, { tableName: 'books', schema: catalog });
  const Author = sequelize.define('Author', { id: key(), name: DataTypes.STRING },
    { tableName: 'authors', schema: catalog });
  const BookAuthor = sequelize.define('BookAuthor', {
    book_id: key(), author_id: key(), role: DataTypes.STRING,
  }, { tableName: 'book_authors', schema: catalog });
  Member.hasMany(Loan, { as: 'loans', foreignKey: 'member_id' });
  Loan.belongsTo(Book, { as: 'book', foreignKey: 'book_id' });
  Book.belongsToMany(Author, { as: 'authors', through: BookAuthor, foreignKey: 'book_id', otherKey: 'author_id' });
  return { Member, Loan, Book, Author };
}

// The same include trees as bench/cases.py's library cases (explorer shows no junction columns by default).
function cases({ Loan, Book, Author }) {
  return {
    library_chain: {
      include: [{ model: Loan, as: 'loans', include: [{ model: Book, as: 'book' }] }],
    },
    library_authors: {
      include: [{ model: Loan, as: 'loans', include: [{ model: Book, as: 'book', include: [
        { model: Author, as: 'authors', through: { attributes: [] } }] }] }],
    },
    library_required: {
      include: [{ model: Loan, as: 'loans', required: true, include: [
        { model: Book, as: 'book', required: true, where: { year: { [Op.gte]: 2000 } } }] }],
    },
  };
}

// Records at each level: {"": roots, "loans": ..., "loans.book": ..., "loans.book.authors": ...}.
function count(records, counts = {}, path = '') {
  counts[path] = (counts[path] || 0) + records.length;
  for (const record of records) {
    for (const [name, value] of Object.entries(record)) {
      if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
        count(Array.isArray(value) ? value : [value], counts, path ? `${path}.${name}` : name);
      }
    }
  }
  return counts;
}

function option(args, name, fallback) {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args[at + 1]) : fallback;
}

async function main() {
  const [caseName, ...args] = process.argv.slice(2);
  const sequelize = new Sequelize(process.env.CQBENCH_URL, {
    logging: process.env.CQBENCH_LOG ? console.error : false, define: { timestamps: false }, pool: { max: 1 },
  });
  sequelize.dialect.supports.schemas = true;
  const { Member, ...rest } = models(sequelize, process.env.CQBENCH_CATALOG);
  const query = cases({ Member, ...rest })[caseName];
  if (!query) throw new Error(`unknown case ${caseName}`);
  await sequelize.authenticate(); // connect outside the timing, as explorer's setup does
  const before = process.memoryUsage().rss;
  const runs = [];
  let records;
  for (let i = 0; i < option(args, '--repeat', 1); i += 1) {
    const started = process.hrtime.bigint();
    records = (await Member.findAll(query)).map((member) => member.toJSON());
    runs.push(Number(process.hrtime.bigint() - started) / 1e9);
  }
  const peak = process.resourceUsage().maxRSS * 1024; // bytes
  const every = option(args, '--sample-every', 0);
  const out = {
    approach: 'sequelize', case: caseName, seconds: runs[0], runs, rows: null, records: records.length,
    counts: count(records), peak_mb: Math.max(peak - before, 0) / 2 ** 20, frames_mb: 0,
  };
  if (every) out.sample = records.filter((member) => member.id % every === 0);
  await sequelize.close();
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
