"""What generated code imports: the wire format, the server glue and the client streams."""
