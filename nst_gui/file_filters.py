"""What the file dialogs offer: the images the app reads, the formats it saves."""
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff *.gif)"
SAVE_FILTER = ("PNG with settings (*.png);;JPEG (*.jpg *.jpeg);;WebP (*.webp);;"
               "TIFF, 16-bit for print (*.tif *.tiff)")
