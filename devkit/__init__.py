"""Local tools for working on the plugin without Dify; never packaged (see .difyignore)."""
