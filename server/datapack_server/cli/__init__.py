"""Every `datapack` command-line verb and the helpers they share.

May import anything in the server package and the client package."""
