"""The companion report: chapters typeset with WeasyPrint, with tables and figures generated from the model."""
