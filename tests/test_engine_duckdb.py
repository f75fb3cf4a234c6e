import explorer
from shopcases import CASES
def test_one(federated_shop, one_server_shop):
    q = CASES["demo"]
    st = explorer.prepare(federated_shop, {**q, "where": {"name": {"like": "A%"}}})
    print(st.sql)
    print(st.explain())
