"""``make scaffold``: ``rename`` the plugin or strip it to a ``minimal`` one; ``command`` runs and validates them."""
