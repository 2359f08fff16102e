"""The store's contract, tested on the store API itself (repositories and `store.apply`).

Every test here runs once per backend (tests/store/conftest.py parametrises `backend`): a
SQLite file in tmp_path and this process's database on the tests' PostgreSQL server. Tests of
concurrency open a `second` store on the same database (another writer thread on the SQLite
file, another pool on PostgreSQL), as two replicas would. Times are fixed datetimes.
"""
