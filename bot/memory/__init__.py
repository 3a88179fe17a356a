"""Long-term memory per member: facts people state about themselves, kept per platform and community.

`extraction` finds the facts, `facts` stores them, `recall` answers "what's my name?"-style questions from
them, `block` puts them (and a rolling summary of long conversations) into the model's prompt, and
`feature` plugs all of it into the bot with the `/memory` command.
"""
