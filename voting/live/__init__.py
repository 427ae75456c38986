"""The live loop: joining, voting, the console's actions, what each screen sees, and the
Socket.IO events that carry them."""
