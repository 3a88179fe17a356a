"""The turn policy: what a message is (small talk, a business question, harm, ...) and how each kind is answered.

Nothing here imports the app; `bot.policy.feature` plugs the policy into the bot as routes.
"""
