"""Streamed exports of every query and statistic: CSV (UTF-8 with BOM, so Excel reads Chinese) and
XLSX (openpyxl write-only mode). Rows are consumed one at a time from a server-side cursor, so memory
stays flat whatever the row count."""
