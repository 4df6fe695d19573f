ptf $
Decay calibration run
HALF_LIFE      $half_life   $
AMPLITUDE      $amplitude   $
BACKGROUND     $background  $
