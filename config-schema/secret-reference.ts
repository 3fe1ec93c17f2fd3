/** `${{ secrets.NAME }}`, with any spacing inside the braces (global: use with replace/matchAll). */
export const SECRET_REFERENCE = /\$\{\{\s*secrets\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;
