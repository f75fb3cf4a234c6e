import explorer
from shopcases import CASES
def test_one(federated_shop, one_server_shop):
    for name, q in CASES.items():
        for strategy in ("join", "json"):
            q2 = {**q, "strategy": strategy}
            try:
                got = explorer.run(federated_shop, q2, engine="duckdb")
                want = explorer.run(one_server_shop, q2)
                ok = got.records == want.records
                print(name, strategy, got.engine, "OK" if ok else "DIFF")
                if not ok:
                    print("  got ", got.records[:2]); print("  want", want.records[:2])
            except Exception as e:
                print(name, strategy, "ERR", type(e).__name__, str(e)[:400])
