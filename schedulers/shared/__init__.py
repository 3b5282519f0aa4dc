"""Helpers that more than one builtin backend uses; they import only the plugin SPI."""
