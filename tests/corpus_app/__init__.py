"""The type corpus: every kind of type a user can write, each echoed by a plain and a stream API.

`echo/<name>` returns its params' `value`; `replay/<name>` streams the values a test left in
`store` under a key, so any value of the server's type can be sent to a client.
"""
