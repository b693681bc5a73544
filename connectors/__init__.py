"""Channel adapters.  Each turns its channel's traffic into bot.service calls and pushes answers back;
none of them talks to Rasa directly."""
