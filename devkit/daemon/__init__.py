"""The local stand-in for Dify's nginx and plugin daemon: each module says which part it plays."""
