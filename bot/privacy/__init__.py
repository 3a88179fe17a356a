"""What is kept about members and for how long: export, forget and retention over every table.

`registry` says, per table, how a member's rows are found, exported and forgotten (with inference for tables
added later); `export` and `forget` walk it; `retention` deletes or anonymises rows past their time.
"""
