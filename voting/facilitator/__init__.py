"""The facilitator's web pages: assessments, desk ratings, sessions, the console and downloads."""
