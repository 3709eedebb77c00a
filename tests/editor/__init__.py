"""What an editor asks a language engine about a user's file, and the files it asks about."""
