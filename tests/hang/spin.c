/* A busy loop in C, for the "rank in a C loop" hang (tests/hang_test.sh). */
void hang_spin(void);
void hang_spin(void)
{
    for (volatile unsigned long i = 0;; i++)
        ;
}
