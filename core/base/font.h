/* font.h: a tiny built-in 5x7 bitmap font (printable ASCII; characters without a glyph draw as
 * a box) for labels drawn into RGB8 pictures. */
#ifndef HK_FONT_H
#define HK_FONT_H

#define HK_FONT_WIDTH 5
#define HK_FONT_HEIGHT 7

/* The 7 rows of character c's glyph, bit 4 the leftmost column; a box for characters outside
 * 32..126 or without a glyph. Borrowed, static. */
const unsigned char *hk_font_glyph(int c);

/* Width in pixels of text drawn at scale (each character 5 x scale wide, scale apart). */
int hk_font_text_width(const char *text, int scale);

/* Draw text into the RGB8 picture img (w x h, HWC) with its top-left corner at (x, y), every font
 * pixel a scale x scale square of colour rgb; what falls outside the picture is clipped. */
void hk_font_draw(unsigned char *img, int w, int h, int x, int y, const char *text, int scale,
                  const unsigned char rgb[3]);

#endif
