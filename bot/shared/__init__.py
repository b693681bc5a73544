"""What the bot service, the Rasa process and the action server share, in one place:

- masking.py   personal numbers (身份证号, 手机号) masked in logs and stores outside the conversation
- roles.py     the staff roles and what each opens (the HTTP layer and the curation workflow)
- training.py  the one `rasa train` command (scripts/train.sh and the console's retrain)
- secrets.py   secrets shared between the processes, read from the environment

Standard library only, and nothing else of the project (tests/bot/test_shared.py checks): the action
server and the KB library (knowledge_base.curation) import from here without pulling in the bot
service.  It sits under bot/ because the top-level packages are fixed; it is the lowest layer.
"""
