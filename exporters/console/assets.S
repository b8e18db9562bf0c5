/* SPDX-License-Identifier: BSD-2-Clause */
/* The console's files, built into arbord (exporters/console.c). */
	.section .rodata
	.balign 16
	.globl console_index_html, console_index_html_end
console_index_html:
	.incbin "exporters/console/index.html"
console_index_html_end:
	.globl console_css, console_css_end
console_css:
	.incbin "exporters/console/console.css"
console_css_end:
	.globl console_js, console_js_end
console_js:
	.incbin "exporters/console/console.js"
console_js_end:
	.globl console_favicon, console_favicon_end
console_favicon:
	.incbin "exporters/console/favicon.svg"
console_favicon_end:
	.section .note.GNU-stack,"",@progbits
