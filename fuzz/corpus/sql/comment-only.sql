-- nothing here
/* nor here */